import type { DeviceDirectory } from '../fleet/device-directory.js'
import type { TokenStore } from '../http/token-store.js'

/** Who an MQTT connection logged in as: a device (its id), or the manufacturer's app back-end (its token's id). */
export type MqttLogin = { kind: 'device'; id: string } | { kind: 'app'; id: string }

/** The username an app back-end logs in with; no device id can be it (ids start with a letter or digit). */
export const APP_USERNAME = '$app'

/**
 * Who may log in to the embedded broker: a device with its id and the secret issued when it was
 * registered, or the manufacturer's app back-end with username `$app` and an API token of role
 * `app`, to receive customers' notifications (`customers/<id>/notifications`). Any other token is
 * refused, as is a revoked one.
 */
export function createMqttLogins(deps: { directory: Pick<DeviceDirectory, 'authenticate'>; tokens: Pick<TokenStore, 'authenticate'> }) {
  return {
    async authenticate(username: string, password: string): Promise<MqttLogin | undefined> {
      if (username === APP_USERNAME) {
        const principal = await deps.tokens.authenticate(password)
        return principal?.role === 'app' ? { kind: 'app', id: principal.tokenId } : undefined
      }
      const device = await deps.directory.authenticate(username, password)
      return device ? { kind: 'device', id: device.id } : undefined
    },
  }
}

export type MqttLogins = ReturnType<typeof createMqttLogins>
