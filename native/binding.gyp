{
  "targets": [
    {
      "target_name": "hms_native",
      "sources": ["rsa_product.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra"]
    },
    {
      "target_name": "hms_os",
      "sources": ["os.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra"]
    }
  ]
}
