"""Package inventories read from files under a root folder (live host, mounted disk or unpacked image)."""
