"""Wire definitions shared by core/ and imserver/: protobuf, envelope codecs, constants."""
