// Wire-level DNS: nothing here imports anything else of ours.
export * from "./constants.ts";
export * from "./names.ts";
export * from "./query.ts";
export * from "./records.ts";
export * from "./reply.ts";
export * from "./truncate.ts";
