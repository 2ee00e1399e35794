#!/usr/bin/env bash
# Writes the two files main.go embeds, as the provider's release build does (its cmd/pulumi-resource-kubernetes
# generate.go): the module's schema.json with the plugin version set, and its terraform-mapping.json compacted.
# Run by tools/install.ts with GO (the go command) and TOOL_VERSION (tools/versions.json) in the environment.
set -euo pipefail
cd "$(dirname "$0")"
module=github.com/pulumi/pulumi-kubernetes/provider/v4
pseudo=$(awk -v m="$module" '$1 == "require" && $2 == m { print $3 } $1 == m { print $2 }' go.mod | head -1)
[ -n "$pseudo" ] || { echo "prepare.sh: $module is not required in go.mod" >&2; exit 1; }
dir=$("$GO" mod download -json "$module@$pseudo" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).Dir))')
src="$dir/cmd/pulumi-resource-kubernetes"
VERSION="${TOOL_VERSION#v}" SRC="$src" node -e '
  const fs = require("node:fs");
  const schema = JSON.parse(fs.readFileSync(`${process.env.SRC}/schema.json`, "utf8"));
  schema.version = process.env.VERSION;
  fs.writeFileSync("schema-embed.json", JSON.stringify(schema));
  fs.writeFileSync("terraform-mapping-embed.json", JSON.stringify(JSON.parse(fs.readFileSync(`${process.env.SRC}/terraform-mapping.json`, "utf8"))));
'
echo "prepare.sh: embedded files from $module@$pseudo, version ${TOOL_VERSION#v}"
