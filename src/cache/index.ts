// The packet cache; knows nothing of Kubernetes.
export { LARGE_SLOT_BYTES, LARGE_SLOT_SHARE, SLOT_BYTES } from "./arena.ts";
export { type Placement, placeReply, type StoreKind } from "./classify.ts";
export { type CacheEntryInfo, PacketCache } from "./introspect.ts";
export { type CacheObserver, MISS } from "./store.ts";
