// DNS over TLS upstreams (RFC 7858, CoreDNS `forward . tls://...`): the TCP connection's framing,
// pipelining and pooling over a TLS stream. Certificates are verified; TLS 1.2 is the floor.

import { createRequire } from "node:module";
import type { SecureContext } from "node:tls";
import type { ForwardTlsConfig } from "../config/types.ts";
import type { Dial } from "./tcp.ts";

// node:tls (about 1 MB) is loaded only when a tls:// upstream is configured.
const tls = () => createRequire(import.meta.url)("node:tls") as typeof import("node:tls");

/** One context per forwarder: parsing PEM once, not per connection. Throws on unusable PEM. */
export function tlsContext(o: ForwardTlsConfig): SecureContext {
  return tls().createSecureContext({
    minVersion: "TLSv1.2",
    ...(o.cert !== undefined ? { cert: o.cert } : {}),
    ...(o.key !== undefined ? { key: o.key } : {}),
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
  });
}

/**
 * Opens verified TLS connections to one upstream. The last session ticket is offered on the next
 * connection (CoreDNS keeps a client session cache too), so reconnects skip the full handshake.
 */
export function tlsDial(context: SecureContext, serverName: string | undefined): Dial {
  let session: Buffer | undefined;
  const { connect } = tls();
  return (host, port) => {
    const socket = connect({
      host,
      port,
      secureContext: context,
      minVersion: "TLSv1.2",
      rejectUnauthorized: true,
      // Node sends no SNI for an IP; verification then checks the IP against the certificate's SANs.
      ...(serverName !== undefined ? { servername: serverName } : {}),
      ...(session !== undefined ? { session } : {}),
    });
    socket.setNoDelay(true);
    socket.on("session", (s: Buffer) => {
      session = s;
    });
    return socket;
  };
}
