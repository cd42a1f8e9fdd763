"""Everything that makes an asset. Importable without grpc; the server only calls in here."""
