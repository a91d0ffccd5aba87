"""Making the platform show an answer's layout: posts, edits and tidying, all through the budgeted calls.

:class:`ShownParts` holds the one list of the answer's platform messages
(:class:`adapters.render_layout.Part`) and brings them in step with a list of
:class:`adapters.render_layout.Planned` messages: an edit where a message shows
something else, a post where one is missing.  Every call goes through
:class:`adapters.budgeted_call.BudgetedCalls` (budget slot, retry policy).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from adapters.budget import Reservation
from adapters.budgeted_call import PATIENT, RETRY, BudgetedCalls, RetryPolicy
from adapters.rate_window import Priority
from adapters.render_layout import Part, Planned
from adapters.surface import ButtonSurface, DeliveryError, RateLimited, Surface
from core.buttons import Button

log = logging.getLogger(__name__)


class ShownParts:
    """An answer's messages on one surface, and the calls that change them."""

    def __init__(
        self,
        surface: Surface,
        calls: BudgetedCalls,
        *,
        on_posted: Callable[[list[str]], None],
    ) -> None:
        self.surface = surface
        self.calls = calls
        self.on_posted = on_posted  # a message was added: the answer is visible, its list worth recording
        self.parts: list[Part] = []
        self.posts = 0
        self.edits = 0

    def ids(self) -> list[str]:
        """The platform ids of the messages, in order."""
        return [part.id for part in self.parts]

    def adopt(self, parts: Sequence[Part]) -> None:
        """Take over messages that already show (some state of) this answer."""
        self.parts = list(parts)

    def first_stale(self, layout: Sequence[Planned]) -> int:
        """The first message of ``layout`` that is missing or shows something else (``len(layout)``: none)."""
        for index, planned in enumerate(layout):
            if index >= len(self.parts) or self.parts[index].shown != planned.text:
                return index
        return len(layout)

    def cut_from(self, index: int) -> list[str]:
        """Forget the messages from ``index`` on (they are tidied apart); returns their ids."""
        gone = [part.id for part in self.parts[index:]]
        del self.parts[index:]
        return gone

    async def repost(self, layout: Sequence[Planned]) -> list[str]:
        """Post ``layout`` anew from its first stale message on; returns the stale messages' ids, to delete.

        When a post is refused, nothing is to be deleted: the stale messages show what the platform would not take.
        """
        first_stale = self.first_stale(layout)
        stale = self.cut_from(first_stale)
        for planned in layout[first_stale:]:
            if not await self.post(planned, Priority.FINAL):
                return []
        return stale

    async def sync(
        self,
        layout: Sequence[Planned],
        *,
        final: bool,
        priority: Priority,
        reservation: Reservation | None = None,
        deadline: float | None = None,
        stop: Callable[[], bool] = lambda: False,
        policy: RetryPolicy = RETRY,
    ) -> bool:
        """Make the platform show ``layout``; False when it stopped early (``stop()``, or a post was refused).

        With a ``deadline``, raises :class:`TimeoutError` when a call could not get
        its budget slot by then (nothing was sent for that call).
        """
        index = 0
        while index < len(layout):
            if stop():
                return False
            planned = layout[index]
            if index < len(self.parts):
                if self.parts[index].shown != planned.text:
                    sealed = index < len(layout) - 1
                    call_priority = Priority.FIRST if sealed and not final else priority
                    await self.edit(
                        index, planned, call_priority, reservation=reservation, deadline=deadline, policy=policy
                    )
                    if index >= len(self.parts):
                        continue  # the message was deleted under us: post this part anew
            elif not await self.post(planned, Priority.FIRST, deadline=deadline):
                break  # the platform refuses to take it; logged, and the core keeps the text
            index += 1
        return True

    async def post(
        self, planned: Planned, priority: Priority, *, deadline: float | None = None, granted: bool = False
    ) -> bool:
        """Post one message within the budget; False when the platform would not take it."""
        windows = self.surface.windows("post")
        try:
            message_id = await self.calls.call(
                windows,
                priority,
                lambda: self.surface.post(planned.text),
                what="post",
                deadline=deadline,
                granted=granted,
            )
        except TimeoutError:
            raise
        except Exception:  # noqa: BLE001 - logged by the calls; the core keeps the text
            return False
        self.parts.append(Part(message_id, planned.text, planned.bare, planned.upto))
        self.posts += 1
        self.on_posted(self.ids())
        return True

    async def edit(
        self,
        index: int,
        planned: Planned,
        priority: Priority,
        *,
        reservation: Reservation | None = None,
        deadline: float | None = None,
        policy: RetryPolicy = RETRY,
    ) -> bool:
        """Edit message ``index`` to show ``planned``; False when it failed (gone: it and those after are forgotten)."""
        part = self.parts[index]
        windows = self.surface.windows("edit")
        try:
            await self.calls.call(
                windows,
                priority,
                lambda: self.surface.edit(part.id, planned.text),
                what="edit",
                policy=policy,
                reservation=reservation if priority == Priority.FINAL else None,
                deadline=deadline,
            )
        except TimeoutError:
            raise
        except DeliveryError as exc:
            if exc.gone:
                log.warning("message %s is gone; posting the rest anew", part.id)
                del self.parts[index:]
            return False
        except Exception:  # noqa: BLE001 - logged by the calls; the next sync tries again
            return False
        self.parts[index] = Part(part.id, planned.text, planned.bare, planned.upto)
        self.edits += 1
        return True

    async def show_buttons(self, buttons: Sequence[Button]) -> bool:
        """Put ``buttons`` under the last message, where the surface can; False when that failed."""
        surface = self.surface
        if not self.parts or not isinstance(surface, ButtonSurface):
            return True
        last = self.parts[-1]
        try:
            await self.calls.call(
                surface.windows("edit"),
                Priority.FINAL,
                lambda: surface.show_buttons(last.id, last.shown, buttons),
                what="showing buttons",
            )
        except Exception:  # noqa: BLE001 - the answer stands without them; each has a typed twin
            return False
        return True

    async def tidy(self, message_id: str, text: str | None, priority: Priority = Priority.ROUTINE) -> None:
        """Show ``text`` in a message left with a streaming marker, or delete it (``None``): whatever it takes."""
        action = "edit" if text is not None else "delete"

        async def send() -> None:
            if text is not None:
                await self.surface.edit(message_id, text)
            else:
                await self.surface.delete(message_id)

        try:
            await self.calls.call(
                self.surface.windows(action),
                priority,
                send,
                what=f"tidying message {message_id}",
                policy=PATIENT,
            )
        except RateLimited:
            log.warning("gave up tidying message %s", message_id)
        except Exception as exc:  # noqa: BLE001 - cosmetic; the answer itself is delivered
            log.info("could not %s message %s: %s: %s", action, message_id, type(exc).__name__, exc)
