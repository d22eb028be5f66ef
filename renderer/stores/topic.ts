// A topic held in a Pinia store: the Map itself stays out of deep reactivity (thousands of units);
// `version` ticks on every change so computed views recompute, and `lastOps` (with the hub client's
// number of each op's entity, `lastSlots`) lets heavy views (the globe) apply only what changed.
import { shallowRef, ref, type Ref, type ShallowRef } from 'vue';
import type { DeltaOp, TopicEntity, TopicName } from '../../common/contract.ts';
import { useHub } from '../hub/index.ts';

export interface TopicState<T> {
  items: ShallowRef<ReadonlyMap<string, T>>;
  version: Ref<number>;
  ready: Ref<boolean>;
  lastOps: ShallowRef<readonly DeltaOp[] | null>;
  lastSlots: ShallowRef<Int32Array | null>;
  list(): T[];
}

export function topicState<N extends TopicName>(name: N): TopicState<TopicEntity<N>> {
  const hub = useHub();
  const items = shallowRef(hub.topic(name) as ReadonlyMap<string, TopicEntity<N>>);
  const version = ref(0);
  const ready = ref(false);
  const lastOps = shallowRef<readonly DeltaOp[] | null>(null);
  const lastSlots = shallowRef<Int32Array | null>(null);
  hub.subscribe(name, (e) => {
    items.value = hub.topic(name) as ReadonlyMap<string, TopicEntity<N>>;
    lastOps.value = e.kind === 'delta' ? e.ops : null;
    lastSlots.value = e.kind === 'delta' ? e.slots : null;
    ready.value = true;
    version.value += 1;
  });
  return { items, version, ready, lastOps, lastSlots, list: () => [...items.value.values()] };
}
