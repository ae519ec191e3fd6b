#!/bin/sh
# build_once_product.sh N [WORK]: the store `load --bulk` builds (validation on) for bench/layout_once.py, timed by /usr/bin/time -v
set -e
N=$1
FT=$(dirname "$0")/../.venv/bin/fairtracks-ld; FT=$(realpath "$FT")
BASE=http://localhost:8000/
WORK=${2:-/tmp/once-work}; cd "$WORK"
if [ ! -d template/store ]; then
  mkdir -p template
  /usr/bin/time -v -o template/ontologies.time nice -n 5 $FT --store template/store --base-iri $BASE ontologies load > template/ontologies.log 2>&1
fi
[ -d corpus-$N ] || $FT generate --tracks $N --seed 1 --out corpus-$N
rm -rf product-$N; mkdir -p product-$N
cp -a template/store product-$N/store
[ -d template/store.snapshots ] && cp -a template/store.snapshots product-$N/ || true
uptime > product-$N/uptime.start
/usr/bin/time -v -o product-$N/load.time nice -n 5 $FT --store product-$N/store --base-iri $BASE load --bulk corpus-$N/*.json > product-$N/load.log 2>&1
uptime > product-$N/uptime.end
echo done > product-$N/DONE
