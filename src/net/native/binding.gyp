{
  "targets": [
    { "target_name": "netkube_setns", "sources": ["setns.c"] }
  ]
}
