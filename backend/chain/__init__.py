"""Chain-facing helpers shared by the indexer, the relayer and the API.

`eip712` is the one Python definition of the signed types the contracts verify;
everything that hashes, signs or checks an intent or an owner approval goes through it.
"""
