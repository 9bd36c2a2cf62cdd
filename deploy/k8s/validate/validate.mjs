// Validates every manifest under deploy/k8s against the Kubernetes and KEDA
// JSON schemas (kubernetes-models, @kubernetes-models/keda). Prints one line
// per object; exits non-zero on the first invalid file with the reason.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { ConfigMap, Namespace, PersistentVolumeClaim, Service } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";

const kinds = { ConfigMap, Namespace, PersistentVolumeClaim, Service, Deployment, ScaledObject };
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function yamlFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "validate" || name === "node_modules") return [];
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return name.endsWith(".yaml") ? [path] : [];
  });
}

let count = 0;
for (const file of yamlFiles(root)) {
  const name = relative(root, file);
  if (name === "nats-values.yaml") continue; // helm values, not a manifest
  for (const doc of yaml.loadAll(readFileSync(file, "utf8"))) {
    if (!doc) continue;
    if (doc.kind === "Kustomization") {
      for (const resource of doc.resources ?? []) {
        const target = join(dirname(file), resource);
        if (!statSync(target, { throwIfNoEntry: false })) throw new Error(`${name}: resource ${resource} does not exist`);
      }
      for (const patch of doc.patches ?? []) statSync(join(dirname(file), patch.path));
      console.log(`ok ${name}: Kustomization`);
      continue;
    }
    if (name.startsWith("overlays/") && doc.kind === "Deployment" && !doc.spec?.selector) {
      console.log(`ok ${name}: patch of Deployment/${doc.metadata.name}`);
      continue; // a strategic-merge patch, checked against the base by the Rust test
    }
    const Model = kinds[doc.kind];
    if (!Model) throw new Error(`${name}: no schema for kind ${doc.kind}`);
    try {
      new Model(doc).validate();
    } catch (error) {
      throw new Error(`${name}: ${doc.kind}/${doc.metadata?.name} is invalid: ${error.message}`);
    }
    count += 1;
    console.log(`ok ${name}: ${doc.kind}/${doc.metadata.name}`);
  }
}
console.log(`${count} objects valid`);
