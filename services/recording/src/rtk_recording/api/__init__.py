"""gRPC servicers (thin: authorize, convert, call the domain)."""
