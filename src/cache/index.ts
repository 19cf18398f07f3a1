// The packet cache; knows nothing of Kubernetes.
export { type Placement, placeReply, type StoreKind } from "./classify.ts";
export type { CacheEntryInfo } from "./introspect.ts";
export { type CacheEntry, type CacheObserver, PacketCache } from "./store.ts";
