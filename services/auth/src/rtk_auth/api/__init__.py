"""gRPC adapters: proto → domain → proto."""
