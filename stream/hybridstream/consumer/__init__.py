"""Building blocks for consumers of the unified event stream, pure (no I/O): the
de-duplication of the active-active overlap, and a trailing stop as an example of a
consumer that acts on prices (docs/consumers.md)."""

from hybridstream.consumer.dedup import EventDeduplicator
from hybridstream.consumer.trailing_stop import Firing, StopSpec, TrailingStopConsumer

__all__ = ["EventDeduplicator", "Firing", "StopSpec", "TrailingStopConsumer"]
