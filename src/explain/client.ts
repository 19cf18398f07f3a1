// Who asks: the pod (or address) an explain request names, and the resolver settings it has.

import { isIP } from "node:net";
import { searchPath } from "../cluster/autopath.ts";
import type { ClusterRecords } from "../cluster/index.ts";
import { ExplainError } from "../errors/index.ts";
import type { ExplainClient, ExplainRequest } from "./types.ts";

/** kubelet writes `options ndots:5` for ClusterFirst pods. */
export const POD_NDOTS = 5;
/** The default namespace of a client nobody named. */
export const DEFAULT_NAMESPACE = "default";

export interface ClientView extends ExplainClient {
  search: string[];
  ndots: number;
}

/**
 * The client of a request: `pod` NAMESPACE/POD, `client` IP, else a pod in `default` (a running
 * one of this node when the pods are watched). Pods get kubelet's search list and ndots:5; an
 * address that is no pod of this node is taken as a host-network client with the node's list.
 */
export function resolveClient(
  request: ExplainRequest,
  records: ClusterRecords | null,
  hostSearch: readonly string[],
): ClientView {
  const zone = "cluster.local.";
  const pod = (namespace: string, name: string | null, ip: string | null, known: boolean): ClientView => ({
    ip,
    namespace,
    pod: name,
    known,
    search: records?.searchFor(namespace) ?? searchPath(namespace, zone, hostSearch),
    ndots: POD_NDOTS,
  });
  const watched = records?.watchesPods === true;
  if (request.pod !== undefined) {
    const [namespace, name, ...rest] = request.pod.split("/");
    if (!namespace || !name || rest.length > 0)
      throw new ExplainError("EXPLAIN_BAD_REQUEST", `pod "${request.pod}": expected NAMESPACE/POD`);
    if (!watched) return pod(namespace, name, null, false);
    const found = records!.pod({ namespace, name });
    if (found === null)
      throw new ExplainError(
        "EXPLAIN_NOT_FOUND",
        `pod ${namespace}/${name} is not a running pod of this node (only this node's pods are watched)`,
      );
    return pod(found.namespace, found.name, found.ip, true);
  }
  if (request.client !== undefined) {
    if (isIP(request.client) === 0)
      throw new ExplainError("EXPLAIN_BAD_REQUEST", `client "${request.client}" is not an IP address`);
    const found = watched ? records!.pod({ ip: request.client }) : null;
    if (found !== null) return pod(found.namespace, found.name, request.client, true);
    return {
      ip: request.client,
      namespace: null,
      pod: null,
      known: false,
      search: [...hostSearch],
      ndots: 1,
    };
  }
  const first = watched ? records!.pod({ namespace: DEFAULT_NAMESPACE }) : null;
  if (first !== null) return pod(first.namespace, first.name, first.ip, true);
  return pod(DEFAULT_NAMESPACE, null, null, false);
}
