// Reassembles one asset's files from byte ranges and verifies each against its size and
// SHA-256, hashing as bytes arrive. A broken transfer resumes from ResumePoint(): the first
// missing byte, the same rule the gRPC clients follow with Fetch.
using System;
using System.Collections.Generic;
using System.Security.Cryptography;
using System.Text;

namespace Vitrine.Client
{
    public sealed class AssetAssembly : IDisposable
    {
        readonly AssetHeader header;
        readonly byte[][] data;
        readonly long[] received;
        readonly SHA256[] hashes;

        public AssetAssembly(AssetHeader header)
        {
            this.header = header;
            int n = header.Files.Count;
            data = new byte[n][];
            received = new long[n];
            hashes = new SHA256[n];
            for (int i = 0; i < n; i++)
            {
                data[i] = new byte[header.Files[i].SizeBytes];
                hashes[i] = SHA256.Create();
            }
        }

        public AssetHeader Header { get { return header; } }

        public long Received(int file) { return received[file]; }

        /// <summary>Bytes of file `file` at `offset`, which must continue the file exactly
        /// (transfers are in order and resume at the first missing byte).</summary>
        public void Add(int file, long offset, byte[] bytes, int start, int count)
        {
            if (file < 0 || file >= data.Length)
                throw new VitrineException("DATA_LOSS", "bytes for file " + file + " of " + data.Length);
            if (offset != received[file])
                throw new VitrineException("DATA_LOSS", "bytes at offset " + offset + " of file " + file
                                           + "; expected " + received[file]);
            if (offset + count > data[file].Length)
                throw new VitrineException("DATA_LOSS", "bytes past the end of file " + file);
            Buffer.BlockCopy(bytes, start, data[file], (int)offset, count);
            hashes[file].TransformBlock(bytes, start, count, null, 0);
            received[file] = offset + count;
        }

        /// <summary>(file index, offset) of the first missing byte; (file count, 0) when done.</summary>
        public KeyValuePair<int, long> ResumePoint()
        {
            for (int i = 0; i < data.Length; i++)
                if (received[i] < data[i].Length) return new KeyValuePair<int, long>(i, received[i]);
            return new KeyValuePair<int, long>(data.Length, 0);
        }

        public bool FileComplete(int file) { return received[file] == data[file].Length; }

        /// <summary>Checks every file's size and SHA-256; the verified asset.</summary>
        public Asset Finish()
        {
            var asset = new Asset { Header = header };
            for (int i = 0; i < data.Length; i++)
            {
                var info = header.Files[i];
                if (received[i] != info.SizeBytes)
                    throw new VitrineException("DATA_LOSS", info.Name + ": got " + received[i] + " of "
                                               + info.SizeBytes + " bytes");
                hashes[i].TransformFinalBlock(new byte[0], 0, 0);
                if (Hex(hashes[i].Hash) != info.Sha256)
                    throw new VitrineException("DATA_LOSS", info.Name + ": sha256 mismatch");
                asset.Files.Add(new AssetFile { Info = info, Data = data[i] });
            }
            return asset;
        }

        public static string Hex(byte[] digest)
        {
            var sb = new StringBuilder(digest.Length * 2);
            foreach (byte b in digest) sb.Append(b.ToString("x2"));
            return sb.ToString();
        }

        public static string Sha256Hex(byte[] bytes)
        {
            using (var h = SHA256.Create()) return Hex(h.ComputeHash(bytes));
        }

        public void Dispose()
        {
            foreach (var h in hashes) h.Dispose();
        }
    }
}
