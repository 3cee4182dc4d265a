/** The SessionStore contract suite, run against every store (file and PostgreSQL). */
import { dropBackings, SESSION_BACKINGS } from './backings';
import { describeSessionStoreContract } from './store-contract';

afterAll(() => dropBackings());

for (const [name, makeBacking] of SESSION_BACKINGS) describeSessionStoreContract(name, makeBacking);
