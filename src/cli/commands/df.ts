/** `berth system df`: disk usage from GET /system/df, in docker's layouts. */
import type { CommandSpec } from '../command';
import { formatFlagHelp } from '../command';
import { prepareFormat, renderList, templateFailure } from '../format/render';
import {
  DiskUsage,
  builderSize,
  diskUsageFormat,
  diskUsageListFormat,
  diskUsageRows,
  verboseDiskUsage,
  verboseDiskUsageTables,
  verboseRawFormat,
} from '../format/disk-usage';

export const systemDf: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Show berth disk usage',
  args: { max: 0 },
  flags: [
    { name: 'format', type: 'string', help: formatFlagHelp, default: '' },
    { name: 'verbose', short: 'v', type: 'bool', help: 'Show detailed information on space usage' },
  ],
  async run(ctx, p) {
    const du = (await ctx.client().call<DiskUsage | null>('GET', '/system/df')) ?? {};
    const format = (p.values.format as string) || 'table';
    if (!p.values.verbose) {
      const prepared = prepareFormat(diskUsageFormat(format), diskUsageListFormat);
      ctx.out(renderList(prepared, diskUsageRows(du), diskUsageListFormat));
      return 0;
    }
    if (format === 'table') {
      ctx.out(verboseDiskUsageTables(verboseDiskUsage(du, true), builderSize(du.BuildCache ?? [])));
      return 0;
    }
    // Any other format with -v is one template over all four lists, written without a newline after it.
    const prepared = prepareFormat(format === 'raw' ? verboseRawFormat : format, diskUsageListFormat);
    try {
      ctx.out(prepared.template.execute(verboseDiskUsage(du, prepared.table)));
    } catch (e) {
      throw templateFailure(e);
    }
    return 0;
  },
};
