"""The sans-I/O hybrid core: parse Bybit frames, merge tickers into positions, decide
subscriptions and forwarding. Nothing here awaits or touches a socket, so the tests and the
benchmark drive it with plain function calls."""
