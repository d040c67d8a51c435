"""The document store (``BlobStore`` in ``store``): content-addressed, fsynced blobs on a local
directory (``local``), a shared one (``file://``) or S3 (``s3``); ``spool`` streams uploads to
disk before they are committed; ``memory`` is the test implementation; ``factory`` opens the
one ``store_url`` names."""
