#!/bin/bash
# What N stacks pay the Pulumi CLI for: one `konductor action` run (a push
# deploying two stacks, each with an encrypted config value) through a CLI
# wrapper that logs every invocation and its wall time. Run it for two builds
# to compare (the shared-setup figures in docs/performance.md):
#
#   make bench-cli-calls                  (this checkout's bin/)
#   BINS="old=/tmp/old/bin new=bin" scripts/perf/cli-calls.sh
#
# KONDUCTOR_PULUMI_ROOT and KONDUCTOR_PLUGIN_PATH must be set (make sets them).
set -eu
BINS=${BINS:-this=bin}
REAL=$KONDUCTOR_PULUMI_ROOT/bin/pulumi
W=$(mktemp -d); mkdir -p $W/wrap/bin
cat > $W/wrap/bin/pulumi <<EOW
#!/bin/bash
s=\$(date +%s%N); "$REAL" "\$@"; rc=\$?; e=\$(date +%s%N)
a="\$*"; a=\${a#--non-interactive }
echo "\$(( (e-s)/1000000 )) \${a%% --*}" >> \$PWRAP_LOG
exit \$rc
EOW
chmod +x $W/wrap/bin/pulumi
for pair in $BINS; do
 variant=${pair%%=*}; bindir=$(cd "${pair#*=}" && pwd)
 for rep in $(seq ${RUNS:-3}); do
  R=$W/$variant-$rep; mkdir -p $R/ws $R/state $R/home
  cd $R/ws
  printf 'name: app\nruntime: go\n' > Pulumi.yaml
  printf 'stacks:\n  dev: {branch: main}\n  prod: {branch: main}\n' > konductor.yaml
  export PULUMI_BACKEND_URL=file://$R/state PULUMI_CONFIG_PASSPHRASE=x PULUMI_HOME=$R/home
  for s in dev prod; do
   printf "config:\n  app:kubernetes:\n    enabled: true\n    render_dir: rendered/$s\n    namespaces:\n      - name: apps\n" > Pulumi.$s.yaml
   $REAL stack init $s --non-interactive >/dev/null 2>&1
   $REAL config set --secret --path kubernetes.namespaces[0].annotations.token tok-$s-secret --stack $s --non-interactive
  done
  echo '{"ref":"refs/heads/main","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}' > $R/event.json
  export PWRAP_LOG=$R/calls
  s=$(date +%s%N)
  env KONDUCTOR_PULUMI_ROOT=$W/wrap GITHUB_EVENT_NAME=push GITHUB_EVENT_PATH=$R/event.json GITHUB_WORKSPACE=$R/ws \
    GITHUB_REF=refs/heads/main GITHUB_SHA=0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c GITHUB_STEP_SUMMARY=$R/summary \
    GITHUB_OUTPUT=$R/out INPUT_PARALLEL=${PARALLEL:-2} $bindir/konductor action > $R/stdout 2>&1 || { echo FAIL; tail $R/stdout; }
  e=$(date +%s%N)
  echo "$variant rep $rep: wall $(( (e-s)/1000000 )) ms; CLI calls: $(wc -l < $R/calls), summed $(awk '{t+=$1} END {print t}' $R/calls) ms; by command:" $(awk '{c[$2" "$3]++; t[$2" "$3]+=$1} END {for (k in c) printf "%s x%d %dms; ", k, c[k], t[k]}' $R/calls)
 done
done
rm -rf $W
