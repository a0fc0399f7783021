"""Routing observatory: MRT reading, BGP element extraction and route-leak/hijack scans."""
