"""The stream service: thin asyncio/aiohttp adapters around the pure hybrid core, the
legacy REST poller, routing sources, sinks, metrics and the HTTP status server."""
