{
  "targets": [
    { "target_name": "netkube_mmsg", "sources": ["mmsg.c"], "cflags": ["-O2"] }
  ]
}
