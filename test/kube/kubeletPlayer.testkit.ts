// Test kit: plays the scheduler's and the kubelet's parts through the API, since neither runs here (no container
// runtime on these machines). It registers a Node, binds every pod that has no node yet to it (the Binding
// subresource, as kube-scheduler does), reports each bound pod Running and Ready through the status subresource
// (as a kubelet does once its containers pass their probes), and completes the deletion of a pod that is being
// deleted (as a kubelet does once the containers have stopped: a delete with grace period 0).
//
// So kube-controller-manager's StatefulSet and Endpoints controllers, and the Kubernetes provider's await logic,
// run unchanged on objects whose status came the way a real cluster's does. Nothing the program deploys knows
// about it: the program is never given this node, and the pods are the StatefulSet controller's own.

import { ApiError, type KubeApi, type KubeObject } from "./apiClient.testkit";

interface Container {
  readonly name: string;
  readonly image: string;
  readonly restartPolicy?: string;
}

interface Pod extends KubeObject {
  readonly spec: { readonly nodeName?: string; readonly containers: readonly Container[]; readonly initContainers?: readonly Container[] };
  readonly status?: { readonly phase?: string; readonly conditions?: readonly { readonly type: string; readonly status: string }[] };
}

export interface KubeletPlayerOptions {
  readonly nodeName?: string;
  /** How often the pods are listed (default 200 ms): polling, so a missed watch event cannot stall a test. */
  readonly pollMs?: number;
}

/** What the player did, for tests that assert the pods went through it. */
export interface PlayerCounts {
  readonly bound: number;
  readonly started: number;
  readonly removed: number;
}

const now = () => new Date().toISOString();

export class KubeletPlayer {
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly ips = new Map<string, string>();
  private nextIp = 10;
  private counts = { bound: 0, started: 0, removed: 0 };
  /** Requests the API server refused for a reason other than a race with a controller (404, 409). */
  readonly problems: string[] = [];

  private constructor(
    private readonly api: KubeApi,
    readonly nodeName: string,
    private readonly pollMs: number,
  ) {}

  static async start(api: KubeApi, options: KubeletPlayerOptions = {}): Promise<KubeletPlayer> {
    const player = new KubeletPlayer(api, options.nodeName ?? "fluo-test-node", options.pollMs ?? 200);
    await player.registerNode();
    player.loop = player.run();
    return player;
  }

  get done(): PlayerCounts {
    return { ...this.counts };
  }

  /** Stops polling and waits for the current pass to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async registerNode(): Promise<void> {
    const name = this.nodeName;
    await this.api.create("/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "topology.kubernetes.io/zone": "test-zone-a" } },
      spec: {},
    });
    const resources = { cpu: "8", memory: "32Gi", pods: "110", "ephemeral-storage": "100Gi" };
    await this.api.mergePatch(`/api/v1/nodes/${name}/status`, {
      status: {
        capacity: resources,
        allocatable: resources,
        addresses: [
          { type: "InternalIP", address: "127.0.0.1" },
          { type: "Hostname", address: name },
        ],
        conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "played by the test kit", lastHeartbeatTime: now(), lastTransitionTime: now() }],
      },
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const pods = await this.api.list<Pod>("/api/v1/pods");
        for (const pod of pods) await this.handle(pod);
      } catch (err) {
        this.problems.push(err instanceof Error ? err.message : String(err));
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  private async handle(pod: Pod): Promise<void> {
    const ns = pod.metadata.namespace ?? "default";
    const path = `/api/v1/namespaces/${ns}/pods/${pod.metadata.name}`;
    try {
      if (pod.metadata.deletionTimestamp) {
        // Graceful deletion of a bound pod waits for its kubelet; the containers "stopped" at once.
        if (pod.spec.nodeName === this.nodeName) {
          await this.api.remove(path, { gracePeriodSeconds: 0 });
          this.counts.removed++;
          this.ips.delete(pod.metadata.uid ?? "");
        }
        return;
      }
      if (!pod.spec.nodeName) {
        await this.api.create(`${path}/binding`, {
          apiVersion: "v1",
          kind: "Binding",
          metadata: { name: pod.metadata.name, namespace: ns, uid: pod.metadata.uid },
          target: { apiVersion: "v1", kind: "Node", name: this.nodeName },
        });
        this.counts.bound++;
        return;
      }
      if (pod.spec.nodeName === this.nodeName && !isReady(pod)) {
        await this.api.mergePatch(`${path}/status`, { status: this.runningStatus(pod) });
        this.counts.started++;
      }
    } catch (err) {
      // A controller deleted or recreated the pod between the list and this request: the next pass sees it anew.
      if (err instanceof ApiError && (err.status === 404 || err.status === 409)) return;
      throw err;
    }
  }

  /** The status a kubelet reports once every container runs and passes its probes. */
  private runningStatus(pod: Pod): Record<string, unknown> {
    const uid = pod.metadata.uid ?? pod.metadata.name;
    let ip = this.ips.get(uid);
    if (!ip) {
      ip = `10.244.${Math.floor(this.nextIp / 250)}.${(this.nextIp % 250) + 2}`;
      this.nextIp++;
      this.ips.set(uid, ip);
    }
    const at = now();
    const running = (c: Container) => ({
      name: c.name,
      image: c.image,
      imageID: c.image,
      containerID: `containerd://${uid.replace(/-/g, "")}${c.name.length}`,
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: at } },
    });
    const init = (pod.spec.initContainers ?? []).map((c) =>
      // A native sidecar (restartPolicy Always) keeps running; an ordinary init container has completed.
      c.restartPolicy === "Always"
        ? running(c)
        : { ...running(c), ready: true, started: false, state: { terminated: { exitCode: 0, reason: "Completed", startedAt: at, finishedAt: at } } },
    );
    const condition = (type: string) => ({ type, status: "True", lastProbeTime: null, lastTransitionTime: at });
    return {
      phase: "Running",
      hostIP: "127.0.0.1",
      hostIPs: [{ ip: "127.0.0.1" }],
      podIP: ip,
      podIPs: [{ ip }],
      startTime: at,
      conditions: ["PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled"].map(condition),
      containerStatuses: pod.spec.containers.map(running),
      ...(init.length > 0 ? { initContainerStatuses: init } : {}),
    };
  }
}

function isReady(pod: Pod): boolean {
  return pod.status?.phase === "Running" && (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}
