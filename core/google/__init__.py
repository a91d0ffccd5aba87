"""Google: OAuth (consent URLs, code exchange, ID tokens), encrypted tokens, Drive and Calendar clients."""
