"""Transport-agnostic auth logic: keys, participant tokens, API tokens, accounts and apps."""
