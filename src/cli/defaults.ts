// What `npm start` serves with no flags: a local caching forwarder to the node's resolvers.

export const DEFAULT_COREFILE = `# nodelocaldns built-in default (used when -conf is not given)
.:10053 {
    bind 127.0.0.1
    errors
    cache 30
    forward . /etc/resolv.conf
    prometheus 127.0.0.1:9253
}
`;

/** The resolv.conf files the daemon reads; environment variables override them (tests). */
export function resolvConfPaths(env: NodeJS.ProcessEnv): { resolvConf: string; systemdResolvConf: string } {
  return {
    resolvConf: env.NODELOCALDNS_RESOLV_CONF || "/etc/resolv.conf",
    systemdResolvConf: env.NODELOCALDNS_SYSTEMD_RESOLV_CONF || "/run/systemd/resolve/resolv.conf",
  };
}
