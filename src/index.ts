export * from './tenant-repository';
export * from './ecr-access-role';
export * from './install-repository';
export * from './image-sync';
export * from './lifecycle';
export * from './repository-props';
export * from './customer-ready-synthesizer';
