// The daemon's version: reported by -version and coredns_build_info.
export const VERSION = "0.1.0";
