/** The pages' tables: a scrolling wrapper, a header row of plain titles, the rows as given. */
import type { ComponentChildren } from 'preact';

export function Table({ testId, head, children }: { testId?: string; head: string[]; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table data-testid={testId}>
        <thead>
          <tr>{head.map((h) => <th>{h}</th>)}</tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
