"""Thin gRPC servicers of the SFU (media control: SfuService)."""
