"""Transport-agnostic control plane of the SFU: sessions, peers, subscriptions, enforcement."""
