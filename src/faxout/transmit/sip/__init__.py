"""The SIP transport: sippy for signalling, our own RTP and UDPTL, spandsp for T.30."""
