import { airConditioner } from './air-conditioner.js'
import { fridge } from './fridge.js'
import type { Profile, ProfileId } from './profile.js'
import { washer } from './washer.js'
import { waterHeater } from './water-heater.js'

export const PROFILES: Record<ProfileId, Profile> = {
  washer,
  fridge,
  'air-conditioner': airConditioner,
  'water-heater': waterHeater,
}
