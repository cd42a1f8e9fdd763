"""The core every model family and the server build on: the registry and the generator
contract, the in-memory asset types, options, errors, and checkpoint/weights IO.

Nothing here imports a model family, the texture or geometry code, or grpc.
"""
