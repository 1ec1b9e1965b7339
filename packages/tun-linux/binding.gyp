{
  "targets": [
    {
      "target_name": "ztun_tun",
      "conditions": [
        [
          "OS=='linux'",
          {
            "sources": ["native/tun_io.cc", "native/splice_relay.cc", "native/udp_relay.cc", "native/socket_ops.cc"],
            "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
            "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
            "cflags_cc": ["-O2", "-std=c++17", "-fno-exceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"]
          },
          { "type": "none" }
        ]
      ]
    }
  ]
}
