/** The CIFAR-10 reader is @rdc/core's (data/cifar10.ts), so library users have it too; training reads it from here. */
export { CIFAR10_CLASSES, CIFAR10_SHAPE, Cifar10, flipHorizontal, loadCifar10, readClassNames, TEST_FILE, type Cifar10Split } from '@rdc/core';
