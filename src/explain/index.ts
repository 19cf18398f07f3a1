// The troubleshooting view: how a pod's name resolves (`explain`) and what the cache holds
// (`cache show/flush`), served on the local debug endpoint of the `explain` directive.
export { Explainer, type ExplainerDeps } from "./explainer.ts";
export { startExplainServer } from "./http.ts";
export type * from "./types.ts";
