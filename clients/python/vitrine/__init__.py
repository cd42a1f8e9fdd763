"""vitrine Python client: generate, fetch and list 3D assets from a vitrine server.

    from vitrine import Client
    with Client("127.0.0.1:50051") as client:
        asset = client.generate("procedural", category="vase", seed=7)
        asset.save("out/")
"""

from vitrine.client import Asset, Client, VitrineError, request

__all__ = ["Asset", "Client", "VitrineError", "request"]
