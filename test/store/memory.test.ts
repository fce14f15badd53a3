// The in-memory store against the contract suite.
import { memoryStore } from '../../src/store/index.js'
import { storeContract } from './contract.js'

storeContract('memory', async () => ({ store: memoryStore() }))
