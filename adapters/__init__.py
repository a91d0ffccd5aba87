"""Platform adapters: map platform events to core types and render the core's event stream."""
