{
  "targets": [
    {
      "target_name": "hms_native",
      "sources": ["rsa_product.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra"]
    }
  ]
}
