// SPDX-License-Identifier: GPL-2.0
/*
 * The registry of exposed devices: expose, revoke, and follow the bus.
 *
 * An admin exposes a device; sgdma then creates /dev/sgdma/<name> for it.
 * The device keeps its own driver, if any.  A device named by expose= or
 * matching ids= is exposed whenever it appears (hot-plug, rescan).  When
 * the device is unbound or removed, when a driver that manages DMA itself
 * (vfio-pci) binds to it or to another device of its IOMMU group, or when
 * the admin un-exposes it, sgdma revokes it: every region mapped for it is
 * unmapped (and the IOTLB flushed) before revocation returns, the pages are
 * unpinned, and its open files answer -ENODEV.
 */
#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/iommu.h>
#include <linux/of_device.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "sgdma_compat.h"
#include "sgdma_internal.h"

#define SGDMA_MAX_DEVICES 256

/*
 * Protects exposing and revoking.  Lookups (open, the bus notifier) read
 * sgdma_devs under RCU; a device's memory is freed after a grace period.
 */
static DEFINE_MUTEX(sgdma_lock);
/*
 * minor -> struct sgdma_dev.  A revoked device's minor stays reserved until
 * its last reference goes: a stale node never opens a newer device.
 */
static DEFINE_XARRAY_ALLOC(sgdma_devs);
static u32 sgdma_next_minor;
static dev_t sgdma_devt_base;
static bool sgdma_up;		/* between registry init and exit */

static void sgdma_dev_release(struct kref *kref)
{
	struct sgdma_dev *sd = container_of(kref, struct sgdma_dev, kref);

	xa_erase(&sgdma_devs, MINOR(sd->devt));
	if (sd->group)
		iommu_group_put(sd->group);
	put_device(sd->dev);
	free_page((unsigned long)sd->status);	/* mappings hold their own */
	kfree_rcu(sd, rcu);
}

void sgdma_dev_put(struct sgdma_dev *sd)
{
	kref_put(&sd->kref, sgdma_dev_release);
}

struct sgdma_dev *sgdma_dev_get_by_devt(dev_t devt)
{
	struct sgdma_dev *sd;

	rcu_read_lock();
	sd = xa_load(&sgdma_devs, MINOR(devt));
	if (sd && (sd->devt != devt || !kref_get_unless_zero(&sd->kref)))
		sd = NULL;
	rcu_read_unlock();
	return sd;
}

bool sgdma_dev_translated(struct device *dev)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);

	return domain && domain->type != IOMMU_DOMAIN_IDENTITY;
}

/* Caller holds sgdma_lock. */
static struct sgdma_dev *sgdma_find_exposed(struct device *dev)
{
	struct sgdma_dev *sd;
	unsigned long minor;

	lockdep_assert_held(&sgdma_lock);
	xa_for_each(&sgdma_devs, minor, sd)
		if (sd->dev == dev)
			return sd;
	return NULL;
}

/* The buses a device may be named on, as "<bus>:<name>" or just "<name>". */
static SGDMA_BUS_CONST struct bus_type *const sgdma_buses[] = {
	&pci_bus_type,
	&platform_bus_type,
};

/* Which of sgdma_buses @spec names, or -1; *@name: the device's name on it. */
static int sgdma_spec_bus(const char *spec, const char **name)
{
	const char *colon = strchr(spec, ':');
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sgdma_buses); i++) {
		const char *bus = sgdma_buses[i]->name;

		if (colon && colon - spec == strlen(bus) &&
		    !strncmp(spec, bus, colon - spec)) {
			*name = colon + 1;
			return i;
		}
	}
	*name = spec;
	return -1;
}

static struct device *sgdma_lookup_device(const char *spec)
{
	struct device *dev;
	const char *name;
	unsigned int i;
	int bus;

	bus = sgdma_spec_bus(spec, &name);
	if (bus >= 0)
		return bus_find_device_by_name(sgdma_buses[bus], NULL, name);
	for (i = 0; i < ARRAY_SIZE(sgdma_buses); i++) {
		dev = bus_find_device_by_name(sgdma_buses[i], NULL, spec);
		if (dev)
			return dev;
	}
	return NULL;
}

/* Do @a and @b name the same device (a missing bus matches any)? */
static bool sgdma_specs_match(const char *a, const char *b)
{
	const char *name_a, *name_b;
	int bus_a, bus_b;

	bus_a = sgdma_spec_bus(a, &name_a);
	bus_b = sgdma_spec_bus(b, &name_b);
	return (bus_a < 0 || bus_b < 0 || bus_a == bus_b) &&
	       !strcmp(name_a, name_b);
}

static bool sgdma_spec_names(const char *spec, struct device *dev)
{
	const char *name;
	int bus;

	bus = sgdma_spec_bus(spec, &name);
	return (bus < 0 || dev->bus == sgdma_buses[bus]) &&
	       !strcmp(name, dev_name(dev));
}

/*
 * The devices to expose whenever they appear (hot-plug, a PCI rescan, an
 * FPGA loaded with a new design): every name given to expose= at load
 * time, and those given later that named a device.  Changed under
 * sgdma_lock, read under RCU by the bus notifier.
 */
struct sgdma_wanted {
	struct list_head node;
	struct rcu_head rcu;
	char spec[];
};

static LIST_HEAD(sgdma_wanted_list);
static unsigned int sgdma_nwanted;

/* Caller holds sgdma_lock. */
static int sgdma_want(const char *spec)
{
	struct sgdma_wanted *w;
	size_t len;

	lockdep_assert_held(&sgdma_lock);
	list_for_each_entry(w, &sgdma_wanted_list, node)
		if (sgdma_specs_match(w->spec, spec))
			return 0;
	if (sgdma_nwanted >= SGDMA_MAX_DEVICES)
		return -ENOSPC;
	len = strlen(spec) + 1;
	w = kmalloc(struct_size(w, spec, len), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	memcpy(w->spec, spec, len);
	list_add_tail_rcu(&w->node, &sgdma_wanted_list);
	sgdma_nwanted++;
	return 0;
}

/* Caller holds sgdma_lock; true when @spec was wanted. */
static bool sgdma_unwant(const char *spec)
{
	struct sgdma_wanted *w, *next;
	bool found = false;

	lockdep_assert_held(&sgdma_lock);
	list_for_each_entry_safe(w, next, &sgdma_wanted_list, node) {
		if (!sgdma_specs_match(w->spec, spec))
			continue;
		list_del_rcu(&w->node);
		kfree_rcu(w, rcu);
		sgdma_nwanted--;
		found = true;
	}
	return found;
}

/* Is @dev to be exposed when it appears?  Lock-free, as sgdma_concerns(). */
static bool sgdma_is_wanted(struct device *dev)
{
	struct sgdma_wanted *w;
	bool found;

	if (sgdma_ids_match(dev))
		return true;
	found = false;
	rcu_read_lock();
	list_for_each_entry_rcu(w, &sgdma_wanted_list, node)
		if (sgdma_spec_names(w->spec, dev))
			found = true;
	rcu_read_unlock();
	return found;
}

/* vfio-pci and the like put the device's whole group in a domain of their own. */
static bool sgdma_dma_managed_by_driver(struct device *dev)
{
	return dev->driver && sgdma_driver_manages_dma(dev);
}

static int sgdma_group_member_manages_dma(struct device *dev, void *unused)
{
	return sgdma_dma_managed_by_driver(dev) ? -EBUSY : 0;
}

/*
 * Our mappings live in the IOMMU domain the device had when it was
 * exposed.  Nothing in the kernel stops root from changing the group's
 * domain type (when no driver is bound), nor vfio from claiming the group
 * through another of its devices: refuse new mappings once either
 * happened.  Caller holds sd->dma_lock.
 */
int sgdma_dev_check_iommu(struct sgdma_dev *sd)
{
	lockdep_assert_held(&sd->dma_lock);
	if (!sd->group)
		return 0;
	if (iommu_get_domain_for_dev(sd->dev) != sd->domain)
		return -EBUSY;
	return iommu_group_for_each_dev(sd->group, NULL,
					sgdma_group_member_manages_dma);
}

/* Our mappings can be unmapped only from the domain they were made in. */
bool sgdma_dev_domain_intact(struct sgdma_dev *sd)
{
	return !sd->group || iommu_get_domain_for_dev(sd->dev) == sd->domain;
}

/*
 * Unmapping in a lazily invalidated domain leaves stale IOTLB entries until
 * the flush queue runs: flush before the caller unpins the pages, as VFIO
 * does, so the device cannot reach memory that is no longer ours.
 */
void sgdma_dev_flush_iotlb(struct sgdma_dev *sd)
{
	if (sd->domain && sgdma_domain_is_lazy(sd->domain))
		iommu_flush_iotlb_all(sd->domain);
}

/* ----------------------------------------------------------------------- */
/* DMA parameters                                                           */

/*
 * A driver that maps memory of its own has live mappings made under the
 * device's current parameters (swiotlb finds a bounce slot's start from
 * min_align_mask) and limits chosen for its hardware: sgdma changes the
 * parameters only when no driver is bound or the bound one makes no
 * mappings (dma_free_drivers).
 */
static bool sgdma_may_own_params(struct device *dev)
{
	return !dev->driver || sgdma_driver_is_dma_free(dev->driver->name);
}

/*
 * Segments as long as a scatterlist entry holds: the PCI default of 64 KiB
 * would split every huge page into many.  Bounce buffers keep the offset in
 * the page where the kernel can, so a device sees the buffer's page layout
 * whatever the DMA path.
 */
static void sgdma_dev_take_params(struct sgdma_dev *sd)
{
	struct device *dev = sd->dev;

	if (!sgdma_may_own_params(dev)) {
		dev_info(dev, "sgdma: %s is bound: keeping its DMA parameters\n",
			 dev->driver->name);
		return;
	}
	sd->owns_params = true;
	sd->saved_dma_mask = dma_get_mask(dev);
	sd->saved_coherent_mask = dev->coherent_dma_mask;
	if (!dev->dma_parms)
		return;
	sd->saved_parms = true;
	sd->saved_max_seg = dev->dma_parms->max_segment_size;
	sd->saved_seg_boundary = dev->dma_parms->segment_boundary_mask;
	sd->saved_min_align = sgdma_get_min_align(dev);
	dev->dma_parms->max_segment_size = UINT_MAX & PAGE_MASK;
	if (SGDMA_BOUNCE_KEEPS_PAGE_OFFSET)
		sgdma_set_min_align(dev, PAGE_SIZE - 1);
}

/* Called once none of our mappings is left. */
static void sgdma_dev_restore_params(struct sgdma_dev *sd)
{
	struct device *dev = sd->dev;

	if (!sd->owns_params)
		return;
	if (dma_get_mask(dev) != sd->saved_dma_mask)
		dma_set_mask(dev, sd->saved_dma_mask);
	if (dev->coherent_dma_mask != sd->saved_coherent_mask)
		dma_set_coherent_mask(dev, sd->saved_coherent_mask);
	if (sd->saved_parms) {
		dev->dma_parms->max_segment_size = sd->saved_max_seg;
		dev->dma_parms->segment_boundary_mask = sd->saved_seg_boundary;
		sgdma_set_min_align(dev, sd->saved_min_align);
	}
	sd->owns_params = false;
}

/* ----------------------------------------------------------------------- */
/* Exposing and revoking                                                    */

/*
 * On a device-tree PCI host the kernel sets a device's DMA up (coherence,
 * IOMMU group, DMA ranges) only when a driver binds: a device no driver
 * has bound would be treated as non-coherent and, behind an IOMMU, have
 * no group, so the IOMMU would abort its DMA.  Do what the PCI bus does
 * at bind time.  Only with no driver bound (a bound driver had it set up)
 * and no range map yet (the call would replace it without freeing it).
 * The device lock is taken after sgdma_lock elsewhere: only try it; who
 * holds it is binding or unbinding a driver, and a bind sets DMA up.
 * ACPI and x86 hosts set a PCI device's DMA up when it is added.
 */
static void sgdma_dev_configure_dma(struct device *dev)
{
	struct pci_bus *bus;
	struct device *bridge;
	int ret;

	if (!IS_ENABLED(CONFIG_OF) || !dev_is_pci(dev))
		return;
	for (bus = to_pci_dev(dev)->bus; bus->parent; bus = bus->parent)
		;
	bridge = bus->bridge;
	if (!bridge || !bridge->parent || !bridge->parent->of_node)
		return;
	if (!device_trylock(dev))
		return;
	if (!dev->driver && !dev->dma_range_map) {
		ret = of_dma_configure_id(dev, bridge->parent->of_node, true,
					  NULL);
		if (ret)
			dev_warn(dev, "sgdma: setting up its DMA failed: %d\n",
				 ret);
	}
	device_unlock(dev);
}

/* The IOMMU setup must be one sgdma can share; remember its domain. */
static int sgdma_dev_attach_iommu(struct sgdma_dev *sd)
{
	struct device *dev = sd->dev;
	struct iommu_domain *domain;
	int ret;

	sd->group = iommu_group_get(dev);
	if (!sd->group)
		return 0;
	ret = iommu_group_for_each_dev(sd->group, NULL,
				       sgdma_group_member_manages_dma);
	if (ret) {
		dev_warn(dev, "sgdma: a device of its IOMMU group is owned by a user-space DMA driver, not exposed\n");
		return ret;
	}
	domain = iommu_get_domain_for_dev(dev);
	if (!domain || !sgdma_domain_is_kernel_managed(domain)) {
		dev_warn(dev, "sgdma: its IOMMU domain is not the kernel's DMA domain, not exposed\n");
		return -EBUSY;
	}
	sd->domain = domain;
	return 0;
}

/* Caller holds sgdma_lock; takes over the reference on @dev. */
static int sgdma_expose_device(struct device *dev)
{
	struct sgdma_dev *sd;
	u32 minor;
	int ret;

	lockdep_assert_held(&sgdma_lock);
	if (!sgdma_up) {
		put_device(dev);
		return -ENODEV;
	}
	if (sgdma_find_exposed(dev)) {
		put_device(dev);
		return -EEXIST;
	}
	if (!dev->dma_mask) {
		dev_warn(dev, "sgdma: device cannot do DMA, not exposed\n");
		put_device(dev);
		return -EINVAL;
	}
	if (sgdma_dma_managed_by_driver(dev)) {
		dev_warn(dev, "sgdma: %s manages its DMA, not exposed\n",
			 dev->driver->name);
		put_device(dev);
		return -EBUSY;
	}
	sgdma_dev_configure_dma(dev);

	sd = kzalloc(sizeof(*sd), GFP_KERNEL);
	if (!sd) {
		put_device(dev);
		return -ENOMEM;
	}
	kref_init(&sd->kref);
	sd->dev = dev;
	sd->status = (struct sgdma_status *)get_zeroed_page(GFP_KERNEL);
	if (!sd->status) {
		ret = -ENOMEM;
		goto err_free;
	}
	init_rwsem(&sd->dma_lock);
	spin_lock_init(&sd->regions_lock);
	INIT_LIST_HEAD(&sd->regions);

	/* Reserved until sgdma_dev_release(); stored once fully set up. */
	ret = xa_alloc_cyclic(&sgdma_devs, &minor, NULL,
			      XA_LIMIT(0, SGDMA_MAX_DEVICES - 1),
			      &sgdma_next_minor, GFP_KERNEL);
	if (ret < 0)
		goto err_free;
	sd->devt = MKDEV(MAJOR(sgdma_devt_base), minor);

	ret = sgdma_dev_attach_iommu(sd);
	if (ret)
		goto err_put;

	sd->cdev = cdev_alloc();
	if (!sd->cdev) {
		ret = -ENOMEM;
		goto err_put;
	}
	sd->cdev->ops = &sgdma_fops;
	sd->cdev->owner = THIS_MODULE;

	sgdma_dev_take_params(sd);
	ret = cdev_add(sd->cdev, sd->devt, 1);
	if (ret)
		goto err_restore;
	xa_store(&sgdma_devs, minor, sd, GFP_KERNEL);
	sd->node = device_create(&sgdma_class, dev, sd->devt, sd, "%s",
				 dev_name(dev));
	if (IS_ERR(sd->node)) {
		ret = PTR_ERR(sd->node);
		sd->node = NULL;
		xa_store(&sgdma_devs, minor, NULL, GFP_KERNEL);
		cdev_del(sd->cdev);
		sd->cdev = NULL;
		goto err_restore;
	}
	dev_info(dev, "sgdma: exposed as /dev/sgdma/%s\n", dev_name(dev));
	return 0;

err_restore:
	sgdma_dev_restore_params(sd);
	if (sd->cdev)
		kobject_put(&sd->cdev->kobj);
err_put:
	sgdma_dev_put(sd);	/* frees the minor, drops @dev */
	return ret;
err_free:
	free_page((unsigned long)sd->status);
	kfree(sd);
	put_device(dev);
	return ret;
}

/*
 * Caller holds sgdma_lock.  Unmaps every region of the device, then removes
 * the node and restores the device's DMA parameters; open files answer
 * -ENODEV from then on.  When this returns, nothing of the device is mapped.
 */
static void sgdma_revoke(struct sgdma_dev *sd)
{
	lockdep_assert_held(&sgdma_lock);
	/* New opens fail; the minor stays reserved for open files. */
	xa_store(&sgdma_devs, MINOR(sd->devt), NULL, GFP_KERNEL);
	sgdma_regions_revoke(sd);
	/*
	 * Nothing of ours is mapped any more: let the group go with the
	 * device (5.10's intel-iommu oopses freeing a group that outlived the
	 * removal of its device).
	 */
	if (sd->group) {
		iommu_group_put(sd->group);
		WRITE_ONCE(sd->group, NULL);
	}
	device_destroy(&sgdma_class, sd->devt);
	sd->node = NULL;
	cdev_del(sd->cdev);
	sd->cdev = NULL;
	sgdma_dev_restore_params(sd);
	dev_info(sd->dev, "sgdma: no longer exposed\n");
	sgdma_dev_put(sd);
}

/*
 * Expose the device @spec names, and again whenever it reappears.  At load
 * time (@at_load) @spec is remembered even when no such device exists yet;
 * later, only when it named a device that is now exposed.
 */
int sgdma_expose(const char *spec, bool at_load)
{
	struct device *dev;
	int ret;

	dev = sgdma_lookup_device(spec);
	if (!dev && !at_load) {
		pr_warn("sgdma: no device %s\n", spec);
		return -ENODEV;
	}
	mutex_lock(&sgdma_lock);
	ret = dev ? sgdma_expose_device(dev) : 0;
	if (at_load || !ret || ret == -EEXIST) {
		int err = sgdma_want(spec);

		if (!ret)
			ret = err;
	}
	mutex_unlock(&sgdma_lock);
	if (!dev && !ret)
		pr_info("sgdma: no device %s yet, exposing it when it appears\n",
			spec);
	return ret;
}

/* Revoke the device @spec names, and forget it: it stays un-exposed. */
int sgdma_unexpose_by_name(const char *spec)
{
	struct sgdma_dev *sd = NULL;
	struct device *dev;
	bool wanted;

	dev = sgdma_lookup_device(spec);
	mutex_lock(&sgdma_lock);
	wanted = sgdma_unwant(spec);
	if (dev) {
		sd = sgdma_find_exposed(dev);
		if (sd)
			sgdma_revoke(sd);
	}
	mutex_unlock(&sgdma_lock);
	put_device(dev);
	return sd || wanted ? 0 : -ENODEV;
}

/*
 * A device appeared, or the module is loading: expose it if ids= or
 * expose= asked for it (sgdma_expose_device() says why it cannot).
 */
static int sgdma_expose_if_wanted(struct device *dev, void *unused)
{
	if (!sgdma_is_wanted(dev))
		return 0;
	mutex_lock(&sgdma_lock);
	sgdma_expose_device(get_device(dev));
	mutex_unlock(&sgdma_lock);
	return 0;
}

int sgdma_list_exposed(char *buf, size_t size)
{
	struct sgdma_dev *sd;
	unsigned long minor;
	int len = 0;

	mutex_lock(&sgdma_lock);
	xa_for_each(&sgdma_devs, minor, sd)
		len += scnprintf(buf + len, size - len, "%s%s",
				 len ? "," : "", dev_name(sd->dev));
	mutex_unlock(&sgdma_lock);
	len += scnprintf(buf + len, size - len, "\n");
	return len;
}

/* ----------------------------------------------------------------------- */
/* Following the bus                                                        */

/*
 * Is @dev, or (when @group is set) a device of @group, exposed?  Lock-free,
 * so that events of unrelated devices never wait for sgdma.
 */
static bool sgdma_concerns(struct device *dev, struct iommu_group *group)
{
	struct sgdma_dev *sd;
	unsigned long minor;
	bool found = false;

	rcu_read_lock();
	xa_for_each(&sgdma_devs, minor, sd)
		if (sd->dev == dev || (group && READ_ONCE(sd->group) == group))
			found = true;
	rcu_read_unlock();
	return found;
}

static void sgdma_revoke_for(struct device *dev, struct iommu_group *group,
			     const char *why)
{
	struct sgdma_dev *sd;
	unsigned long minor;

	mutex_lock(&sgdma_lock);
	xa_for_each(&sgdma_devs, minor, sd) {
		if (sd->dev != dev && (!group || sd->group != group))
			continue;
		dev_info(sd->dev, "sgdma: %s, revoking regions\n", why);
		sgdma_revoke(sd);
	}
	mutex_unlock(&sgdma_lock);
}

static int sgdma_notify(struct notifier_block *nb, unsigned long action,
			void *data)
{
	struct device *dev = data;
	struct iommu_group *group = NULL;
	const char *why;

	switch (action) {
	case BUS_NOTIFY_ADD_DEVICE:
		sgdma_expose_if_wanted(dev, NULL);
		return NOTIFY_OK;
	case BUS_NOTIFY_DEL_DEVICE:
		why = "device going away";
		break;
	case BUS_NOTIFY_UNBIND_DRIVER:
		why = "driver unbound";
		break;
	case BUS_NOTIFY_BIND_DRIVER:
		if (sgdma_dma_managed_by_driver(dev)) {
			/* Its domain will replace ours for the whole group. */
			why = "a driver managing DMA binds in its IOMMU group";
			group = iommu_group_get(dev);
		} else if (!sgdma_may_own_params(dev)) {
			/* It must start with the parameters it had. */
			why = "a driver making its own mappings binds";
		} else {
			return NOTIFY_DONE;
		}
		break;
	default:
		return NOTIFY_DONE;
	}

	if (sgdma_concerns(dev, group))
		sgdma_revoke_for(dev, group, why);
	if (group)
		iommu_group_put(group);
	return NOTIFY_OK;
}

static struct notifier_block sgdma_nb[ARRAY_SIZE(sgdma_buses)];

static void sgdma_unregister_notifiers(unsigned int n)
{
	while (n--)
		bus_unregister_notifier(sgdma_buses[n], &sgdma_nb[n]);
}

int sgdma_registry_init(void)
{
	unsigned int i;
	int ret;

	ret = alloc_chrdev_region(&sgdma_devt_base, 0, SGDMA_MAX_DEVICES,
				  "sgdma");
	if (ret)
		return ret;
	ret = class_register(&sgdma_class);
	if (ret)
		goto err_chrdev;
	for (i = 0; i < ARRAY_SIZE(sgdma_buses); i++) {
		sgdma_nb[i].notifier_call = sgdma_notify;
		ret = bus_register_notifier(sgdma_buses[i], &sgdma_nb[i]);
		if (ret) {
			sgdma_unregister_notifiers(i);
			goto err_class;
		}
	}
	mutex_lock(&sgdma_lock);
	sgdma_up = true;
	mutex_unlock(&sgdma_lock);
	/* ids=: those there now; the notifier sees later ones. */
	bus_for_each_dev(&pci_bus_type, NULL, NULL, sgdma_expose_if_wanted);
	return 0;

err_class:
	class_unregister(&sgdma_class);
err_chrdev:
	unregister_chrdev_region(sgdma_devt_base, SGDMA_MAX_DEVICES);
	return ret;
}

/* No file is open (each holds the module), so every device goes at once. */
void sgdma_registry_exit(void)
{
	struct sgdma_wanted *w, *next;
	struct sgdma_dev *sd;
	unsigned long minor;

	sgdma_unregister_notifiers(ARRAY_SIZE(sgdma_buses));
	mutex_lock(&sgdma_lock);
	sgdma_up = false;
	xa_for_each(&sgdma_devs, minor, sd)
		sgdma_revoke(sd);
	list_for_each_entry_safe(w, next, &sgdma_wanted_list, node)
		kfree(w);	/* no notifier reads the list any more */
	INIT_LIST_HEAD(&sgdma_wanted_list);
	sgdma_nwanted = 0;
	mutex_unlock(&sgdma_lock);
	rcu_barrier();	/* kfree_rcu() of the devices and names */
	class_unregister(&sgdma_class);
	unregister_chrdev_region(sgdma_devt_base, SGDMA_MAX_DEVICES);
}
