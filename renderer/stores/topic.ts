// A topic held in a Pinia store: the Map itself stays out of deep reactivity (thousands of units);
// `version` ticks on every change so computed views recompute. Heavy views (the globe) and derived
// counts (the legend) subscribe to the hub client themselves and apply only what changed.
import { shallowRef, ref, type Ref, type ShallowRef } from 'vue';
import type { TopicEntity, TopicName } from '../../common/contract.ts';
import { useHub } from '../hub/index.ts';

export interface TopicState<T> {
  items: ShallowRef<ReadonlyMap<string, T>>;
  version: Ref<number>;
  ready: Ref<boolean>;
  list(): T[];
}

export function topicState<N extends TopicName>(name: N): TopicState<TopicEntity<N>> {
  const hub = useHub();
  const items = shallowRef(hub.topic(name) as ReadonlyMap<string, TopicEntity<N>>);
  const version = ref(0);
  const ready = ref(false);
  hub.subscribe(name, () => {
    items.value = hub.topic(name) as ReadonlyMap<string, TopicEntity<N>>;
    ready.value = true;
    version.value += 1;
  });
  return { items, version, ready, list: () => [...items.value.values()] };
}
