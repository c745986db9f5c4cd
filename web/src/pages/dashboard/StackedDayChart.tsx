// The charting library is loaded with this file only, so the shell and the figures paint first.
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

import { colourOf, type DayRow, type Stacked } from "./chartData";

export default function StackedDayChart({ stacked, height = 260 }: { stacked: Stacked; height?: number }) {
  return (
    <ResponsiveContainer width="100%" height={height}>
      <BarChart accessibilityLayer={false} data={stacked.rows} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
        <CartesianGrid strokeDasharray="3 3" vertical={false} />
        <XAxis dataKey="day" tickFormatter={(day: string) => day.slice(5)} fontSize={11} minTickGap={12} />
        <YAxis allowDecimals={false} fontSize={11} width={48} />
        <Tooltip />
        <Legend wrapperStyle={{ fontSize: 12 }} />
        {stacked.keys.map((key, index) => (
          <Bar key={key} dataKey={(row: DayRow) => row.values[key]} name={key} stackId="day" fill={colourOf(key, index)} isAnimationActive={false} />
        ))}
      </BarChart>
    </ResponsiveContainer>
  );
}
