#!/bin/bash
# Where one `konductor preview` of the example stack spends its CPU: every
# process of the tree (the Pulumi CLI, the kubernetes provider, the baseline
# pack) wrapped with GNU time; konductor's own share is the tree's total minus
# the CLI's (GNU time counts the children a process reaped).
#
#   make bench-profile        (or: BIN=bin RUNS=3 scripts/perf/profile-preview.sh
#                              with KONDUCTOR_PULUMI_ROOT/KONDUCTOR_PLUGIN_PATH set
#                              and the example's chart prepared by make demo)
set -eu
BIN=$(cd "${BIN:-bin}" && pwd)
REPO=$(pwd)
W=$(mktemp -d); LOG=$W/log; mkdir -p $W/root/bin $W/plugins
wrap() { # name real target
  printf '#!/bin/bash\nexec /usr/bin/time -a -o %s -f "%s %%U %%S %%e %%M" %s "$@"\n' "$LOG" "$1" "$2" > "$3"; chmod +x "$3"; }
wrap pulumi-cli $KONDUCTOR_PULUMI_ROOT/bin/pulumi $W/root/bin/pulumi
wrap k8s-provider $KONDUCTOR_PLUGIN_PATH/pulumi-resource-kubernetes $W/plugins/pulumi-resource-kubernetes
wrap baseline-pack $BIN/konductor-baseline $W/konductor-baseline
cp -r $REPO/examples/platform $W/ex; rm -rf $W/ex/.konductor/state $W/ex/.konductor/manifests
export PULUMI_BACKEND_URL=file://$W/state PULUMI_HOME=$W/home PULUMI_CONFIG_PASSPHRASE=
mkdir -p $W/state
(cd $W/ex && $KONDUCTOR_PULUMI_ROOT/bin/pulumi stack init dev --non-interactive >/dev/null 2>&1)
for i in $(seq ${RUNS:-3}); do
  : > $LOG
  /usr/bin/time -o $W/total -f "%U %S %e %M" env KONDUCTOR_PULUMI_ROOT=$W/root KONDUCTOR_PLUGIN_PATH=$W/plugins \
     KONDUCTOR_BASELINE_PACK=$W/konductor-baseline $BIN/konductor preview --stack dev --cwd $W/ex > /dev/null
  read tu ts te tm < $W/total
  echo "run $i: total (tree) cpu $(echo "$tu + $ts" | bc) s, wall $te s"
  awk -v tu=$tu -v ts=$ts '$1!="Command" {cpu=$2+$3; c[$1]+=cpu; n[$1]++; w[$1]+=$4; if ($5>m[$1]) m[$1]=$5}
    END {
      # GNU time reports a process with the children it reaped: the CLI reaps the provider and the pack.
      self = c["pulumi-cli"] - c["k8s-provider"] - c["baseline-pack"]
      printf "  %-28s cpu %5.2f s\n", "konductor (program, client)", tu+ts-c["pulumi-cli"]
      printf "  %-28s cpu %5.2f s  x%d  peak %4d MiB\n", "pulumi CLI (engine)", self, n["pulumi-cli"], m["pulumi-cli"]/1024
      printf "  %-28s cpu %5.2f s  wall %5.2f s  peak %4d MiB\n", "kubernetes provider", c["k8s-provider"], w["k8s-provider"], m["k8s-provider"]/1024
      printf "  %-28s cpu %5.2f s  wall %5.2f s  peak %4d MiB\n", "baseline policy pack", c["baseline-pack"], w["baseline-pack"], m["baseline-pack"]/1024
    }' $LOG
done
rm -rf $W
