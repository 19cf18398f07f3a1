// The packet cache; knows nothing of Kubernetes.
export { EVICTION_SAMPLES, LARGE_SLOT_BYTES, LARGE_SLOT_SHARE, SLOT_BYTES } from "./arena.ts";
export { type Placement, placeReply, type StoreKind } from "./classify.ts";
export { type CacheEntryInfo, PacketCache } from "./introspect.ts";
export { type CacheObserver, type InsertResult, MISS } from "./store.ts";
