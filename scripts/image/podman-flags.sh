#!/bin/sh
# Prints the podman flags every build and run here needs: runc, whose cgroup handling works on these
# machines (crun's fails), and file and process limits pinned below the host's hard limits (runc
# cannot raise a container's limits to the host's own values; podman's defaults ask for more).
nofile=$(ulimit -Hn)
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then nofile=65536; fi
echo "--runtime runc --ulimit nofile=$nofile:$nofile --ulimit nproc=4096:4096"
