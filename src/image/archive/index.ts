/** `docker save` and `docker load`: image archives in Docker's and the OCI image layout. */
export { planSave, writeSaveArchive, type SavePlan } from './save';
export { loadArchive, type LoadedImage } from './load';
export { spoolArchive, type SpooledArchive } from './spool';
